#include "awsid.h"

#include <string.h>

#include "banned.h"

bool aws_id_valid(const char *id, const char *prefix)
{
	size_t n, hex = 0;

	if (!id || !prefix)
		return false;
	n = strlen(prefix);
	if (strncmp(id, prefix, n) || id[n] != '-')
		return false;
	for (const char *p = id + n + 1; *p; p++, hex++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return hex == 8 || hex == 17;
}

bool instance_id_valid(const char *id)
{
	return aws_id_valid(id, "i");
}
