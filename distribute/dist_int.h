/*
 * dist_int.h - private to distribute/: helpers the Redis files share.
 */
#ifndef CERTGW_DIST_INT_H
#define CERTGW_DIST_INT_H

#include <hiredis/hiredis.h>

#include "certgw/core.h"

/*
 * CG_EIO "redis: cannot <what>: <why>" for a failed command: no reply
 * (the connection's error), an error reply (its text, cut), or a reply of
 * an unexpected type.
 */
enum cg_code	 dist_redis_reply_error(const redisContext *c,
		    const redisReply *rep, const char *what,
		    struct cg_err *err);

#endif /* CERTGW_DIST_INT_H */
