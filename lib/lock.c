/*
 * lock.c - the process-slot locks.  Slot i of the process table belongs to
 * whoever holds the open-file-description lock (F_OFD_SETLK) on byte i of
 * the segment file; the kernel drops it when its holder dies, so a slot
 * whose lock can be taken has no live holder (proc.c, invariant 2).  This
 * is the bottom layer that reaping, leases, checks and statistics share to
 * tell a live process from a dead one; and the one helper that keeps the
 * segment file's descriptor off stdin, stdout and stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>

#include "internal.h"

/* Try to take (F_WRLCK) or drop (F_UNLCK) the lock on byte SLOT. */
int proc_slot_lock(int fd, unsigned slot, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)slot;
	fl.l_len = 1;
	return fcntl(fd, F_OFD_SETLK, &fl);
}

int proc_lock_slot(hc_cache *c, unsigned slot)
{
	return proc_slot_lock(c->fd, slot, F_WRLCK);
}

void proc_unlock_slot(hc_cache *c, unsigned slot)
{
	proc_slot_lock(c->fd, slot, F_UNLCK);
}

/* Is slot SLOT held by a live attachment?  Asks the kernel without
 * taking anything: F_OFD_GETLK reports a conflicting lock if one exists. */
bool proc_slot_alive(hc_cache *c, unsigned slot)
{
	struct flock fl;

	if (slot == c->slot && c->self != NULL)
		return true;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)slot;
	fl.l_len = 1;
	if (fcntl(c->fd, F_OFD_GETLK, &fl) < 0)
		return true; /* cannot tell: never reap on doubt */
	return fl.l_type != F_UNLCK;
}

/*
 * Keep the segment off descriptors 0-2.  A process that closed stdout and
 * then attached would otherwise get the segment as fd 1, and its next
 * printf would write over the header.  Moved before any slot lock is
 * taken, since the lock belongs to the open file description.
 */
int fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int saved = errno;

	close(fd);
	errno = saved;
	return moved;
}
