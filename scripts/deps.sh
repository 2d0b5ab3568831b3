#!/usr/bin/env bash
# scripts/deps.sh - fetch and build the third-party code the Lambda binaries link.
#
# Usage: scripts/deps.sh [DEPS_DIR]        (default: <repo>/build/deps)
#
# Produces, under DEPS_DIR/prefix:
#   lib/libssl.a           a trimmed static OpenSSL 3.0 (only what TLS to AWS needs, see
#   lib/libcrypto.a        below), built from Debian's openssl source package with
#   include/openssl/*.h    -O2 -fPIC -ffunction-sections -fdata-sections; the static
#                          bootstraps link these two by path
#   lib/libcurl.a          minimal static libcurl (HTTP/HTTPS only; that OpenSSL, zlib,
#                          c-ares), built from Debian's curl source package with
#                          -O2 -fPIC -ffunction-sections -fdata-sections (PIC: it also
#                          links into ASan/PIE test binaries; sections: --gc-sections)
#   include/curl/*.h       its headers
#   bin/curl-config        (`curl-config --static-libs` lists the link libraries)
#   src/cJSON.c            cJSON, from Debian's cjson source package; the Makefile
#   include/cJSON.h        compiles it itself
# zlib, c-ares and expat come from Debian's -dev packages (their static .a). Debian's
# libssl-dev stays installed: the ASan, fuzz and `make dyn` builds link its dynamic
# libssl/libcrypto (a libcurl built against the trimmed headers runs on the full
# libraries), and the tests use the openssl command.
#
# Runs as root on Debian 12: installs missing packages with apt-get, adds deb-src
# entries for the Debian archive if none exist, and uses `apt-get source`.
# Idempotent: when DEPS_DIR/.stamp holds DEPS_RECIPE, it exits at once.
# Third-party source stays under DEPS_DIR (git-ignored), never in the repo.
#
# OpenSSL choices (Configure options in openssl_configure below):
#   - Kept: TLS 1.2 and 1.3, AES-GCM, ChaCha20-Poly1305, SHA-1/SHA-2, HMAC, HKDF, RSA,
#     ECDSA/ECDHE on the NIST prime curves and X25519, DH, the error strings.
#   - Off: SSLv3, TLS 1.0/1.1, DTLS, SRP, PSK, SCTP, CT, OCSP, CMS, TS, CMP, engines,
#     loadable modules and the FIPS provider, DSO, async, compression, the legacy
#     provider and its ciphers/digests (DES, RC2/4/5, IDEA, Blowfish, CAST, SEED,
#     Camellia, ARIA, SM2/3/4, GOST, MD4, MDC2, RIPEMD-160, Whirlpool), DSA, binary
#     curves, KTLS, the console UI and automatic loading of openssl.cnf.
#   - The sources Debian ships for its candidate version are sometimes missing from a
#     mirror (a security update whose .dsc is not there yet): then the newest version
#     `apt-cache showsrc openssl` lists that downloads is used; the stamp records it.
#
# libcurl choices:
#   - Built against the trimmed OpenSSL in DEPS_DIR/prefix (its headers decide which
#     OpenSSL calls libcurl makes, so it links with the trimmed static libraries).
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
DEPS_RECIPE="deps-recipe-2 openssl(trimmed,static,pic) curl(http,https,openssl=prefix,zlib,c-ares,pic) cjson"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps_dir="${1:-$repo_root/build/deps}"
stamp="$deps_dir/.stamp"

# Fast path: nothing but builtins.
if [[ -f "$stamp" && -f "$deps_dir/prefix/lib/libcurl.a" && -f "$deps_dir/prefix/lib/libcrypto.a" ]]; then
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
	zip openssl ca-certificates iproute2 pkg-config perl)

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

# OpenSSL: the candidate first; when the mirror lacks its files (it has happened to a
# security update's .dsc), every version apt knows of, newest first.
begin "fetching the openssl source package" openssl-source
ossl_dl="$src/openssl"
# openssl_fetch [VERSION]: apt-get source openssl[=VERSION] into an empty $ossl_dl.
openssl_fetch() {
	rm -rf "$ossl_dl"
	mkdir -p "$ossl_dl"
	printf '=== apt-get source openssl%s\n' "${1:+=$1}" >>"$log"
	if (cd "$ossl_dl" && "${APT[@]}" source "openssl${1:+=$1}") >>"$log" 2>&1 &&
		compgen -G "$ossl_dl/openssl-[0-9]*/Configure" >/dev/null; then
		return 0
	fi
	rm -rf "$ossl_dl"
	return 1
}
# The versions of source package openssl that apt knows of, newest first.
openssl_versions() {
	local v sorted=() out i j
	while IFS= read -r v; do
		[[ -n "$v" ]] || continue
		for ((i = 0; i < ${#sorted[@]}; i++)); do
			[[ "${sorted[i]}" != "$v" ]] || continue 2
			dpkg --compare-versions "$v" gt "${sorted[i]}" && break
		done
		out=("${sorted[@]:0:i}" "$v")
		for ((j = i; j < ${#sorted[@]}; j++)); do out+=("${sorted[j]}"); done
		sorted=("${out[@]}")
	done < <(apt-cache showsrc openssl 2>/dev/null |
		awk '/^Package:/ { p = ($2 == "openssl") } p && /^Version:/ { print $2 }')
	((${#sorted[@]} == 0)) || printf '%s\n' "${sorted[@]}"
}
if openssl_fetch; then
	say "  apt-get source openssl: the candidate version"
else
	# the candidate just failed: not again
	candidate="$(apt-get source --print-uris openssl 2>/dev/null | awk '$2 ~ /^openssl_.*\.dsc$/ {
		v = $2; sub(/^openssl_/, "", v); sub(/\.dsc$/, "", v); print v; exit }' || true)"
	mapfile -t ossl_versions < <(openssl_versions | { grep -vxF "${candidate:-none}" || true; })
	((${#ossl_versions[@]})) || die "apt-get source openssl failed and apt-cache showsrc openssl lists no version (see $log)"
	say "  apt-get source openssl${candidate:+ ($candidate)} failed; trying: ${ossl_versions[*]}"
	fetched=""
	for v in "${ossl_versions[@]}"; do
		if openssl_fetch "$v"; then
			fetched="$v"
			break
		fi
		say "  openssl=$v: download failed"
	done
	[[ -n "$fetched" ]] || die "no openssl source package downloads (tried the candidate and ${ossl_versions[*]}; see $log)"
	say "  apt-get source openssl=$fetched"
fi
ossl_src="$(compgen -G "$ossl_dl/openssl-[0-9]*/" | head -n 1)"
ossl_src="${ossl_src%/}"
openssl_version="$(cd "$ossl_src" && dpkg-parsechangelog -S Version)"
say "openssl $openssl_version"

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

# --- 4. OpenSSL -----------------------------------------------------------------

openssl_configure=(
	linux-x86_64
	--prefix="$prefix" --libdir=lib --openssldir=/etc/ssl
	no-shared no-module no-fips no-dso no-engine no-dynamic-engine no-async
	no-autoload-config no-ui-console no-tests no-unit-test no-external-tests
	no-legacy no-comp no-ktls no-uplink no-filenames no-ssl-trace
	no-ssl3 no-tls1 no-tls1_1 no-dtls no-weak-ssl-ciphers no-multiblock
	no-srp no-psk no-srtp no-sctp no-ct no-ocsp no-cms no-ts no-cmp no-rfc3779
	no-idea no-des no-rc2 no-rc4 no-rc5 no-bf no-cast no-seed no-camellia no-aria
	no-md4 no-mdc2 no-rmd160 no-whirlpool no-siphash no-scrypt no-siv no-ocb
	no-sm2 no-sm3 no-sm4 no-gost no-dsa no-ec2m
	no-padlockeng no-capieng no-afalgeng
	-ffunction-sections -fdata-sections -O2
)
begin "configuring OpenSSL" openssl-configure
(cd "$ossl_src" && CC="${CC:-gcc}" ./Configure "${openssl_configure[@]}") >>"$log" 2>&1

begin "building OpenSSL (make -j$JOBS build_libs)" openssl-build
ossl_start=$SECONDS
rm -rf "$prefix"
make -C "$ossl_src" -j"$JOBS" build_libs >>"$log" 2>&1
make -C "$ossl_src" install_dev >>"$log" 2>&1
[[ -f "$prefix/lib/libssl.a" && -f "$prefix/lib/libcrypto.a" && -f "$prefix/include/openssl/ssl.h" ]] ||
	die "libssl.a, libcrypto.a or openssl/ssl.h missing after install"
# What must stay: a TLS 1.3/1.2 build with the ciphers, curves and DH that AWS uses.
grep -Eq '^# *define OPENSSL_NO_(TLS1_2|TLS1_3|EC|DH|CHACHA|POLY1305|RSA|ERR)\b' \
	"$prefix/include/openssl/configuration.h" &&
	die "the trimmed OpenSSL lacks something TLS to AWS needs (see include/openssl/configuration.h)"
say "  OpenSSL built in $((SECONDS - ossl_start))s"

# --- 5. libcurl -----------------------------------------------------------------

begin "configuring libcurl" curl-configure
curl_configure=(
	--prefix="$prefix"
	--disable-shared --enable-static
	--with-openssl="$prefix" --with-zlib --enable-ares
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
	# the trimmed OpenSSL, not Debian's: its headers and (static) libraries
	CC="${CC:-gcc}" CFLAGS="-O2 -fPIC -ffunction-sections -fdata-sections" \
		CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib" LIBS="-lpthread" \
		./configure "${curl_configure[@]}"
) >>"$log" 2>&1

begin "building libcurl (make -j$JOBS)" curl-build
make -C "$curl_src/lib" -j"$JOBS" >>"$log" 2>&1
make -C "$curl_src/lib" install >>"$log" 2>&1
make -C "$curl_src/include" install >>"$log" 2>&1
make -C "$curl_src" install-binSCRIPTS install-pkgconfigDATA >>"$log" 2>&1
[[ -f "$prefix/lib/libcurl.a" && -f "$prefix/include/curl/curl.h" ]] ||
	die "libcurl.a or curl/curl.h missing after install"
rm -f "$prefix/lib/libcurl.la"

# --- 6. cJSON -------------------------------------------------------------------

begin "installing cJSON.c and cJSON.h" cjson
install -D -m 0644 "$cjson_src/cJSON.c" "$prefix/src/cJSON.c"
install -D -m 0644 "$cjson_src/cJSON.h" "$prefix/include/cJSON.h"

# --- 7. Stamp -------------------------------------------------------------------

step="writing stamp"
log=""
printf '%s\nopenssl %s\ncurl %s\ncjson %s\n' "$DEPS_RECIPE" "$openssl_version" "$curl_version" \
	"$cjson_version" >"$stamp"
say "done in ${SECONDS}s: $prefix"
