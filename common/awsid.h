/*
 * awsid.h - the shape of EC2 resource ids.
 *
 * An id that goes into a call (an instance named by an event, by a tag or by
 * another service's answer) is checked first: a prefix, a dash and 8 or 17
 * lower-case hex digits, as EC2 hands them out ("i-0a1b2c3d",
 * "i-0123456789abcdef0"). Nothing else gets through: no spaces, commas,
 * upper case or separators that could change what a request means.
 */
#ifndef AWSID_H
#define AWSID_H

#include <stdbool.h>

/* `id` is `prefix` + "-" + 8 or 17 lower-case hex digits ("ami", "snap", ...). */
bool aws_id_valid(const char *id, const char *prefix);
/* An EC2 instance id: aws_id_valid(id, "i"). */
bool instance_id_valid(const char *id);

#endif
