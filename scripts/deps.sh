#!/usr/bin/env bash
# scripts/deps.sh - fetch and build the third-party code the Lambda binaries link.
#
# Usage: scripts/deps.sh [DEPS_DIR]        (default: <repo>/build/deps)
#
# Produces, under DEPS_DIR/prefix:
#   lib/libcurl.a          minimal static libcurl (HTTP/HTTPS only; OpenSSL, zlib,
#                          c-ares), built from Debian's curl source package with
#                          -O2 -fPIC -ffunction-sections -fdata-sections (PIC: it also
#                          links into ASan/PIE test binaries; sections: --gc-sections)
#   include/curl/*.h       its headers
#   bin/curl-config        (`curl-config --static-libs` lists the link libraries)
#   src/cJSON.c            cJSON, from Debian's cjson source package; the Makefile
#   include/cJSON.h        compiles it itself
# OpenSSL, zlib, c-ares and expat come from Debian's -dev packages (their static .a).
#
# Runs as root on Debian 12: installs missing packages with apt-get, adds deb-src
# entries for the Debian archive if none exist, and uses `apt-get source`.
# Idempotent: when DEPS_DIR/.stamp holds DEPS_RECIPE, it exits at once.
# Third-party source stays under DEPS_DIR (git-ignored), never in the repo.
#
# libcurl choices:
#   - Only HTTP(S)/1.1 is built; every other protocol, HTTP/2, IDN, PSL, brotli, zstd,
#     alt-svc, HSTS, netrc, DoH, NTLM, TLS-SRP and GSS-API are off.
#   - Proxy support is kept (curl's default): a Lambda in a VPC may reach AWS through an
#     egress proxy configured with https_proxy/no_proxy. Callers that talk to the local
#     Runtime API should set CURLOPT_NOPROXY so a proxy variable cannot capture it.
#   - Cookies are kept (curl's default; unused, small).
#   - No CA bundle or CA path is compiled in (Debian and Amazon Linux keep the bundle
#     in different places, and libcurl ignores SSL_CERT_FILE): callers must set
#     CURLOPT_CAINFO, e.g. /etc/pki/tls/certs/ca-bundle.crt on AL2023 (Lambda),
#     /etc/ssl/certs/ca-certificates.crt on Debian.
#   - --disable-openssl-auto-load-config: libcrypto does not read openssl.cnf.
set -euo pipefail

# Bump whenever anything below changes what ends up in DEPS_DIR.
DEPS_RECIPE="deps-recipe-1 curl(http,https,openssl,zlib,c-ares,pic) cjson"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps_dir="${1:-$repo_root/build/deps}"
stamp="$deps_dir/.stamp"

# Fast path: nothing but builtins.
if [[ -f "$stamp" && -f "$deps_dir/prefix/lib/libcurl.a" ]]; then
	IFS= read -r have <"$stamp" || true
	if [[ "${have:-}" == "$DEPS_RECIPE" ]]; then
		exit 0
	fi
fi

mkdir -p "$deps_dir"
deps_dir="$(cd "$deps_dir" && pwd)"
stamp="$deps_dir/.stamp"
prefix="$deps_dir/prefix"
src="$deps_dir/src"
logs="$deps_dir/logs"

PACKAGES=(build-essential libssl-dev zlib1g-dev libexpat1-dev libc-ares-dev
	libcmocka-dev python3-botocore python3-pytest dpkg-dev clang libclang-rt-14-dev
	zip openssl ca-certificates iproute2 pkg-config)

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
JOBS="$(nproc 2>/dev/null || echo 2)"

step=""
log=""
say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: FAILED in step "%s": %s\n' "$step" "$*" >&2; exit 1; }
on_error() {
	local rc=$?
	trap - ERR
	[[ $BASHPID == "$$" ]] || exit "$rc" # a subshell: let the main shell report
	printf 'deps: FAILED in step "%s" (exit %d)\n' "$step" "$rc" >&2
	if [[ -n "$log" && -s "$log" ]]; then
		printf 'deps: last lines of %s:\n' "$log" >&2
		tail -n 25 "$log" | sed 's/^/    /' >&2
	fi
	exit "$rc"
}
trap on_error ERR
set -E # the ERR trap also fires inside functions

# begin STEP LOGNAME: announce a step; its command output goes to logs/LOGNAME.log.
begin() {
	step="$1"
	log="$logs/$2.log"
	say "$step"
	: >"$log"
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs Debian packages)"
mkdir -p "$logs"
rm -f "$stamp"

# --- 1. Debian packages ---------------------------------------------------------

apt_lists_empty() {
	! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

missing_packages() {
	local pkg status
	for pkg in "${PACKAGES[@]}"; do
		status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
		[[ "$status" == "install ok installed" ]] || printf '%s\n' "$pkg"
	done
}

begin "checking Debian packages" packages
mapfile -t missing < <(missing_packages)
if ((${#missing[@]})); then
	step="installing Debian packages: ${missing[*]}"
	say "$step"
	if apt_lists_empty; then
		"${APT[@]}" update >>"$log" 2>&1
	fi
	if ! "${APT[@]}" install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
		say "install failed; running apt-get update and retrying"
		"${APT[@]}" update >>"$log" 2>&1
		"${APT[@]}" install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1
	fi
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) || die "still not installed: ${missing[*]}"
fi

# --- 2. deb-src entries ---------------------------------------------------------

src_list=/etc/apt/sources.list.d/devcloud-src.sources

have_deb_src() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f "$f" ]] && grep -Eq '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] && grep -Eiq '^Types:.*\bdeb-src\b' "$f" && return 0
	done
	return 1
}

# The Debian archive's stanzas of the deb822 files, with "Types: deb-src".
deb822_src_stanzas() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" && "$f" != "$src_list" ]] || continue
		awk '
			function flush() {
				if (stanza != "" && isdeb && isdebian) printf "%s\n", stanza
				stanza = ""; isdeb = 0; isdebian = 0
			}
			/^[[:space:]]*$/ { flush(); next }
			/^#/ { next }
			tolower($1) == "types:" {
				for (i = 2; i <= NF; i++) if ($i == "deb") isdeb = 1
				stanza = stanza "Types: deb-src\n"; next
			}
			tolower($1) == "uris:" {
				for (i = 2; i <= NF; i++)
					if ($i ~ /debian\.org|\/debian(-security)?\/?$/) isdebian = 1
			}
			{ stanza = stanza $0 "\n" }
			END { flush() }
		' "$f"
	done
}

# Classic one-line "deb" entries for the Debian archive, as "deb-src".
classic_src_lines() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f "$f" ]] || continue
		awk '$1 == "deb" {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { uri = $i; break }
			if (uri ~ /debian\.org|\/debian(-security)?\/?$/) { sub(/^deb/, "deb-src"); print }
			uri = ""
		}' "$f"
	done
}

if ! have_deb_src; then
	begin "adding deb-src entries for the Debian archive" apt-sources
	stanzas="$(deb822_src_stanzas)"
	lines="$(classic_src_lines)"
	if [[ -n "$stanzas" ]]; then
		printf '# Added by scripts/deps.sh (apt-get source)\n%s\n' "$stanzas" >"$src_list"
	fi
	if [[ -n "$lines" ]]; then
		printf '# Added by scripts/deps.sh (apt-get source)\n%s\n' "$lines" \
			>"${src_list%.sources}.list"
	fi
	if [[ -z "$stanzas" && -z "$lines" ]]; then
		# No Debian entries to mirror: use the standard ones for this release.
		codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
		cat >"$src_list" <<-EOF
			# Added by scripts/deps.sh (apt-get source)
			Types: deb-src
			URIs: http://deb.debian.org/debian
			Suites: $codename $codename-updates
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb-src
			URIs: http://deb.debian.org/debian-security
			Suites: $codename-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
	"${APT[@]}" update >>"$log" 2>&1
fi

# --- 3. Source packages ---------------------------------------------------------

begin "fetching source packages (apt-get source curl cjson)" apt-source
if [[ -z "$(apt-cache showsrc curl 2>/dev/null)" ]]; then
	"${APT[@]}" update >>"$log" 2>&1
fi
rm -rf "$src"
mkdir -p "$src"
(cd "$src" && "${APT[@]}" source curl cjson) >>"$log" 2>&1
curl_src="$(compgen -G "$src/curl-[0-9]*/" | head -n 1 || true)"
cjson_src="$(compgen -G "$src/cjson-[0-9]*/" | head -n 1 || true)"
[[ -n "$curl_src" && -f "$curl_src/configure" ]] || die "no unpacked curl source in $src"
[[ -n "$cjson_src" && -f "$cjson_src/cJSON.c" ]] || die "no unpacked cjson source in $src"
curl_src="${curl_src%/}"
cjson_src="${cjson_src%/}"
curl_version="$(cd "$curl_src" && dpkg-parsechangelog -S Version)"
cjson_version="$(cd "$cjson_src" && dpkg-parsechangelog -S Version)"
say "curl $curl_version, cjson $cjson_version"

# Debian unpacks curl with its GnuTLS and NSS flavour patches applied (its own build
# reverts them for the OpenSSL flavour). Pop applied patches, newest first, until
# neither is applied, so the tree is upstream curl plus Debian's fixes.
begin "reverting Debian's GnuTLS/NSS flavour patches in curl" curl-patches
flavour_patches=(90_gnutls.patch 99_nss.patch)
applied="$curl_src/.pc/applied-patches"
[[ -f "$applied" ]] || die "$applied missing: cannot tell which patches are applied"
mapfile -t stack <"$applied"
is_flavour() { local p; for p in "${flavour_patches[@]}"; do [[ "$1" == "$p" ]] && return 0; done; return 1; }
pending=0
for p in "${stack[@]}"; do is_flavour "$p" && pending=$((pending + 1)); done
for ((i = ${#stack[@]} - 1; i >= 0 && pending > 0; i--)); do
	p="${stack[i]}"
	say "  reverting $p"
	patch -d "$curl_src" -R -p1 -s -f <"$curl_src/debian/patches/$p" >>"$log" 2>&1
	is_flavour "$p" && pending=$((pending - 1))
	rm -rf "${curl_src:?}/.pc/$p"
	printf '%s\n' "${stack[@]:0:i}" | sed '/^$/d' >"$applied"
done
# Verify: upstream's library name is back, no flavour patch is recorded as applied.
if ! grep -qx 'lib_LTLIBRARIES = libcurl.la' "$curl_src/lib/Makefile.am" ||
	! grep -qx 'CURL_@CURL_LT_SHLIB_VERSIONED_FLAVOUR@4' "$curl_src/lib/libcurl.vers.in" ||
	grep -q 'curl-gnutls\|curl-nss' "$curl_src/lib/Makefile.am" "$curl_src/src/Makefile.am" ||
	grep -qx '90_gnutls.patch\|99_nss.patch' "$applied" ||
	compgen -G "$curl_src/*/*.rej" >/dev/null; then
	die "curl tree still carries a GnuTLS/NSS flavour patch"
fi

# --- 4. libcurl -----------------------------------------------------------------

begin "configuring libcurl" curl-configure
curl_configure=(
	--prefix="$prefix"
	--disable-shared --enable-static
	--with-openssl --with-zlib --enable-ares
	--disable-openssl-auto-load-config
	--enable-http --enable-proxy --enable-cookies
	--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp
	--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap
	--disable-smtp --disable-gopher --disable-mqtt --disable-smb
	--disable-manual --disable-alt-svc --disable-hsts --disable-netrc --disable-doh
	--disable-ntlm --disable-ntlm-wb --disable-tls-srp --disable-libcurl-option
	--disable-dependency-tracking
	--without-libpsl --without-brotli --without-zstd --without-nghttp2
	--without-libidn2 --without-librtmp --without-libssh2 --without-libssh
	--without-gssapi --without-libgsasl
	--without-ca-bundle --without-ca-path
)
(
	cd "$curl_src"
	CC="${CC:-gcc}" CFLAGS="-O2 -fPIC -ffunction-sections -fdata-sections" \
		./configure "${curl_configure[@]}"
) >>"$log" 2>&1

begin "building libcurl (make -j$JOBS)" curl-build
rm -rf "$prefix"
make -C "$curl_src/lib" -j"$JOBS" >>"$log" 2>&1
make -C "$curl_src/lib" install >>"$log" 2>&1
make -C "$curl_src/include" install >>"$log" 2>&1
make -C "$curl_src" install-binSCRIPTS install-pkgconfigDATA >>"$log" 2>&1
[[ -f "$prefix/lib/libcurl.a" && -f "$prefix/include/curl/curl.h" ]] ||
	die "libcurl.a or curl/curl.h missing after install"
rm -f "$prefix/lib/libcurl.la"

# --- 5. cJSON -------------------------------------------------------------------

begin "installing cJSON.c and cJSON.h" cjson
install -D -m 0644 "$cjson_src/cJSON.c" "$prefix/src/cJSON.c"
install -D -m 0644 "$cjson_src/cJSON.h" "$prefix/include/cJSON.h"

# --- 6. Stamp -------------------------------------------------------------------

step="writing stamp"
log=""
printf '%s\ncurl %s\ncjson %s\n' "$DEPS_RECIPE" "$curl_version" "$cjson_version" >"$stamp"
say "done in ${SECONDS}s: $prefix"
