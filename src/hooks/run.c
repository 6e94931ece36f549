/* run.c -- one packet through the program, as every packet source does it (see hooks.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

int hook_src_init(struct hook_src *s, struct bpfvm *vm, int prog_fd, struct bpfvm_pkt_stats *st,
		  bpfvm_pkt_fn cb, void *cb_ctx)
{
	memset(s, 0, sizeof(*s));
	s->out = malloc(HOOK_OUT_CAP);
	if (!s->out)
		return -ENOMEM;
	s->vm = vm;
	s->prog_fd = prog_fd;
	s->st = st;
	s->cb = cb;
	s->cb_ctx = cb_ctx;
	return 0;
}

void hook_src_fini(struct hook_src *s)
{
	free(s->out);
	s->out = NULL;
}

int hook_run_one(struct hook_src *s, const uint8_t *pkt, size_t len, uint64_t index, uint64_t ts_ns,
		 struct bpfvm_pkt_info *info)
{
	size_t out_len = 0;
	int err;

	memset(info, 0, sizeof(*info));
	info->index = index;
	info->ts_ns = ts_ns;
	info->orig_len = len;
	info->data = s->out;
	if (len < HOOK_MIN_FRAME) {
		s->st->skipped++;
		info->err = -EINVAL;
		return -EINVAL;
	}
	s->st->pkts++;
	s->st->bytes += len;
	err = bpfvm_prog_run_packet(s->vm, s->prog_fd, pkt, len, s->out, HOOK_OUT_CAP, &out_len, &info->res);
	if (err == -EINTR) {
		/* bpfvm_interrupt(): the loop ends here; the packet did not run to an end, so it is not counted */
		s->st->pkts--;
		s->st->bytes -= len;
		info->err = err;
		memset(&info->res, 0, sizeof(info->res));
		return err;
	}
	if (err) {
		const char *m = bpfvm_errmsg(s->vm);
		size_t n = strlen(m);
		while (n && m[n - 1] == '\n')
			n--;
		if (n >= sizeof(s->errmsg))
			n = sizeof(s->errmsg) - 1;
		memcpy(s->errmsg, m, n);
		s->errmsg[n] = 0;
		s->st->errors++;
		info->err = err;
		info->errmsg = s->errmsg;
		memset(&info->res, 0, sizeof(info->res));
		return err;
	}
	info->res.len = (uint32_t)out_len;
	if (info->res.action < sizeof(s->st->action) / sizeof(s->st->action[0]))
		s->st->action[info->res.action]++;
	return 0;
}

int hook_notify(struct hook_src *s, const struct bpfvm_pkt_info *info)
{
	if (info->written)
		s->st->written++;
	return s->cb ? s->cb(s->cb_ctx, info) : 0;
}
