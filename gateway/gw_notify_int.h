/*
 * gw_notify_int.h - private to the expiry notifications
 * (gateway/gw_notify*.c): the real sender that gateway/gw_notify_send.c
 * gives the run in gateway/gw_notify.c.  Everything tests and other
 * modules use is in include/certgw/notify.h; nothing else includes this.
 */
#ifndef CERTGW_GW_NOTIFY_INT_H
#define CERTGW_GW_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certgw/notify.h"

/*
 * The network sender, a gw_notify_send_fn: the webhook POST or the SMTP
 * mail of ch, bounded by ch's timeout_ms, on the caller's thread.  arg
 * is unused.
 */
bool		 gw_notify_send_real(void *arg,
		    const struct gw_notify_channel *ch,
		    const struct gw_notify_event *ev, int64_t id,
		    char *detail, size_t detail_len);

#endif /* CERTGW_GW_NOTIFY_INT_H */
