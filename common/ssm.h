/*
 * ssm.h - SSM Parameter Store (JSON 1.1 protocol).
 */
#ifndef SSM_H
#define SSM_H

#include <stdbool.h>

#include "aws.h"
#include "buf.h"
#include "err.h"

/*
 * GetParameter: appends the parameter's value to `value`. With decrypt, a
 * SecureString comes back in clear (WithDecryption=true). The value may be
 * a secret: it never appears in `error` nor in logs, and callers wipe it
 * with buf_release_secret() when done. ParameterNotFound and AccessDeniedException
 * come back as ERR_AWS with the code in error->code.
 */
int ssm_get_parameter(struct aws_client *aws, const char *name, bool decrypt,
		      struct buf *value, struct aws_error *error) WARN_UNUSED;

#endif
