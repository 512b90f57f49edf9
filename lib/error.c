/*
 * error.c - error codes and their messages.
 *
 * Public functions return 0 or a negative HC_E* code.  Where the library
 * knows more than the code says (which configuration would fit, which name
 * was bad), it records a message for this thread with hc_fail(); the public
 * entry points pass their result through hc_ret(), which remembers the code
 * so that hc_last_error() can answer with the best text it has.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static __thread int last_code;
static __thread int detail_code;
static __thread char detail[320];

int hc_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	detail_code = code;
	last_code = code;
	return code;
}

int hc_ret_error(int rc)
{
	if (rc != detail_code)
		detail_code = 0;
	last_code = rc;
	return rc;
}

HC_API const char *hc_last_error(void)
{
	if (last_code != 0 && detail_code == last_code && detail[0] != '\0')
		return detail;
	return hc_strerror(last_code);
}

HC_API const char *hc_strerror(int err)
{
	switch (err) {
	case HC_OK:
		return "success";
	case HC_ENOTFOUND:
		return "key not found";
	case HC_EEXISTS:
		return "key already exists";
	case HC_EINVAL:
		return "invalid argument";
	case HC_EKEYLEN:
		return "key is empty or longer than the segment's key limit";
	case HC_EVALUE:
		return "value is larger than the segment's value limit";
	case HC_ESEGEXISTS:
		return "a segment of that name already exists";
	case HC_ENOSEG:
		return "no segment of that name";
	case HC_EPERM:
		return "permission denied on the segment";
	case HC_EVERSION:
		return "segment was made by an incompatible version of hostcache";
	case HC_ECORRUPT:
		return "segment is corrupt or is not a hostcache segment";
	case HC_EPROCS:
		return "all process slots of the segment are in use";
	case HC_ENOMEM:
		return "no block of the segment can be freed for this item now";
	case HC_ENOSPC:
		return "not enough shared memory (/dev/shm) for a segment of that size";
	case HC_EBUSY:
		return "too much contention on the segment; try again";
	case HC_EBUFSIZE:
		return "buffer too small for the value";
	case HC_ENAME:
		return "bad segment name (want 'name' or '/name': no other '/', "
		       "at most 250 bytes)";
	case HC_ENOTNUM:
		return "value is not a decimal number";
	case HC_ECASMISMATCH:
		return "item changed since its CAS id was read";
	case HC_ETTL:
		return "TTL too large";
	case HC_ETIMENS:
		return "segment was made in another time namespace";
	case HC_EINIT:
		return "segment is not initialised (its creator may have died; "
		       "destroy it and create it again)";
	case HC_ECONFIG:
		return "configuration cannot work for this segment size";
	case HC_ESYS:
		return "unexpected system error";
	case HC_ENEGATIVE:
		return "key is cached as known absent (negative entry)";
	case HC_ETIMEDOUT:
		return "waited for another process to fill the key; nothing came";
	case HC_ENOLEASE:
		return "lease not held (it expired and was taken over, or was "
		       "never granted)";
	case HC_ETOOBIG:
		return "segment size beyond what the layout can address";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

HC_API const char *hc_version(void)
{
	return HC_VERSION_STRING;
}
