/* The control sockets' life: the ipc socket's directory checked (it is the
 * socket's only guard), the ipc and optional CURVE tcp ROUTERs bound, and
 * both closed again by control_close. What arrives on them is control.c's. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "common/log.h"
#include "coordinator/coord.h"

static void
set_common(void *s)
{
	int zero = 0;
	/* PROTOCOL.md 1, "Frame limits": the largest body it accepts plus the
	 * slack, and CURVE's framing on the tcp socket. */
	int64_t maxmsg = (int64_t)(proto_frame_limit(PROTO_RCV_CONTROL) + PROTO_CURVE_OVERHEAD);

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
}

/* The directories above the socket's: none may let another user rename the
 * socket's directory away and put one of theirs in its place. Each is owned
 * by root or by this coordinator's user, and writable by no one else unless
 * it is sticky (as /tmp is: there, only an entry's owner may move it). */
static int
parents_secure(const char *d, char *err, size_t errlen)
{
	uid_t me = geteuid();
	char p[4200];
	struct stat st;

	snprintf(p, sizeof(p), "%s", d);
	for (char *slash = strrchr(p, '/'); slash != NULL; slash = strrchr(p, '/')) {
		bool root = slash == p;
		slash[root ? 1 : 0] = '\0';
		if (stat(p, &st) != 0) {
			snprintf(err, errlen, "control.socket: %s: %s", p, strerror(errno));
			return -1;
		}
		if (st.st_uid != 0 && st.st_uid != me) {
			snprintf(err, errlen,
			         "control.socket: %s: its parent %s is owned by uid %u (neither "
			         "root nor this "
			         "coordinator's uid %u): that user could replace the socket's "
			         "directory; set "
			         "control.socket elsewhere",
			         d, p, (unsigned)st.st_uid, (unsigned)me);
			return -1;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
			snprintf(err, errlen,
			         "control.socket: %s: its parent %s (mode %04o) is writable by "
			         "others, who could "
			         "replace the socket's directory; make it writable by its owner "
			         "only or set "
			         "control.socket elsewhere",
			         d, p, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		if (root)
			break;
	}
	return 0;
}

/* The socket's directory is the socket's only guard: whoever may write in it
 * can unlink the socket, bind one of their own and collect the operators'
 * signed JOBs. So, as OpenSSH and relayd do: a real directory (not a symbolic
 * link) owned by this coordinator's user or root and writable by nobody else
 * (the control group may read and search it). A shared sticky one such as
 * /tmp is refused, never repaired: the socket needs a directory of its own.
 * One of ours that others may write in is repaired to 0750, with a warning;
 * anything else stops the start, saying what to do. */
static int
dir_secure(const char *d, char *err, size_t errlen)
{
	uid_t me = geteuid();
	struct stat st, fst;
	unsigned mode;
	int fd = -1, rc = -1;

	if (lstat(d, &st) != 0) {
		snprintf(err, errlen, "control.socket: %s: %s", d, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(
		    err, errlen,
		    "control.socket: %s: the socket's directory is a symbolic link, which can be "
		    "pointed elsewhere; use a real directory or set control.socket elsewhere",
		    d);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "control.socket: %s: not a directory", d);
		return -1;
	}
	/* From here on the directory itself, not its name: a swap between the
	 * lstat and the open shows as another inode. */
	fd = open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &fst) != 0) {
		snprintf(err, errlen, "control.socket: %s: %s", d, strerror(errno));
		goto out;
	}
	if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
		snprintf(err, errlen,
		         "control.socket: %s: the directory was replaced while it was checked", d);
		goto out;
	}
	mode = (unsigned)(fst.st_mode & 07777);
	if (fst.st_uid != me && fst.st_uid != 0) {
		snprintf(err, errlen,
		         "control.socket: %s: directory is owned by uid %u (not this coordinator's "
		         "uid %u): "
		         "another user could replace the socket; remove it or set control.socket "
		         "elsewhere",
		         d, (unsigned)fst.st_uid, (unsigned)me);
		goto out;
	}
	if ((mode & (S_IWGRP | S_IWOTH)) != 0) {
		if ((mode & S_ISVTX) != 0) {
			snprintf(err, errlen,
			         "control.socket: %s: a shared directory (mode %04o: sticky, "
			         "writable by "
			         "others): the socket needs a directory of its own; set "
			         "control.socket to a "
			         "path in one, e.g. /run/odc-coordinator/control.sock",
			         d, mode);
			goto out;
		}
		if (fst.st_uid != me) {
			snprintf(err, errlen,
			         "control.socket: %s: directory mode %04o lets others write in it "
			         "and its "
			         "owner, uid %u, is not this coordinator's uid %u, which cannot "
			         "repair it: "
			         "another user could replace the socket; chmod it 0750 or set "
			         "control.socket "
			         "elsewhere",
			         d, mode, (unsigned)fst.st_uid, (unsigned)me);
			goto out;
		}
		if (fchmod(fd, 0750) != 0) {
			snprintf(err, errlen,
			         "control.socket: %s: directory mode %04o lets others write in it "
			         "and cannot "
			         "be repaired: %s; chmod it 0750 or set control.socket elsewhere",
			         d, mode, strerror(errno));
			goto out;
		}
		log_warn("control.socket: %s: the directory's mode was %04o, writable by others "
		         "who could "
		         "replace the socket: repaired to 0750",
		         d, mode);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int
control_open(struct coord *co, char *err, size_t errlen)
{
	const char *path = co->conf->control_socket;
	char dir[4200], ep[4300];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	char *d = dirname(dir);
	if (mkdir(d, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "control.socket: %s: %s", d, strerror(errno));
		return -1;
	}
	if (parents_secure(d, err, errlen) != 0 || dir_secure(d, err, errlen) != 0)
		return -1;
	/* A socket file left by a coordinator that died: bind needs it gone.
	 * Anything else at that path is not ours to remove. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control.socket: %s exists and is not a socket",
			         path);
			return -1;
		}
		unlink(path);
	}
	co->ctl_ipc = zmq_socket(co->zctx, ZMQ_ROUTER);
	if (co->ctl_ipc == NULL) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		return -1;
	}
	set_common(co->ctl_ipc);
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	mode_t old = umask(0117);
	int rc = zmq_bind(co->ctl_ipc, ep);
	umask(old);
	if (rc != 0) {
		snprintf(err, errlen, "control.socket %s: %s", path, zmq_strerror(errno));
		return -1;
	}
	chmod(path, 0660);
	if (*co->conf->control_group != '\0') {
		struct group *g = getgrnam(co->conf->control_group);
		if (g == NULL || chown(path, (uid_t)-1, g->gr_gid) != 0 ||
		    chown(d, (uid_t)-1, g->gr_gid) != 0) {
			snprintf(err, errlen, "control.group %s: cannot give it %s: %s",
			         co->conf->control_group, path,
			         g ? strerror(errno) : "no such group");
			return -1;
		}
	}
	if (*co->conf->control_tcp != '\0') {
		uint8_t csk[32];
		int one = 1;
		co->ctl_tcp = zmq_socket(co->zctx, ZMQ_ROUTER);
		if (co->ctl_tcp == NULL ||
		    crypto_sign_ed25519_sk_to_curve25519(csk, co->kp->sk) != 0) {
			snprintf(err, errlen, "control.tcp: cannot set up CURVE");
			return -1;
		}
		set_common(co->ctl_tcp);
		zmq_setsockopt(co->ctl_tcp, ZMQ_CURVE_SERVER, &one, sizeof(one));
		zmq_setsockopt(co->ctl_tcp, ZMQ_CURVE_SECRETKEY, csk, sizeof(csk));
		sodium_memzero(csk, sizeof(csk));
		zmq_setsockopt(co->ctl_tcp, ZMQ_ZAP_DOMAIN, COORD_ZAP_CONTROL,
		               strlen(COORD_ZAP_CONTROL));
		if (zmq_bind(co->ctl_tcp, co->conf->control_tcp) != 0) {
			snprintf(err, errlen, "control.tcp %s: %s", co->conf->control_tcp,
			         zmq_strerror(errno));
			return -1;
		}
	}
	return 0;
}

void
control_close(struct coord *co)
{
	if (co->ctl_ipc != NULL) {
		zmq_close(co->ctl_ipc);
		/* Bound by control_open, which removed whatever socket file was
		 * left there: the file is ours. */
		if (co->conf->control_socket != NULL)
			unlink(co->conf->control_socket);
		co->ctl_ipc = NULL;
	}
	if (co->ctl_tcp != NULL) {
		zmq_close(co->ctl_tcp);
		co->ctl_tcp = NULL;
	}
}
