/* sys.h -- the bpf() command layer over the instance (core/core.h): program and map commands, pins,
 * the verifier's entry, and the run-time calls the engines make into it (callx, tail calls).
 * Implemented in sys.c (bpf() dispatch, object table, program commands), sys_map.c (map commands),
 * sys_pin.c (program pins) and sys_verify.c. */
#ifndef BPFVM_SYS_H
#define BPFVM_SYS_H

#include "core/core.h"

struct vm_prog;
struct vm_run;
struct map;

/* For a run of program p (handle fd) over [mem, mem + len) as r1, r2: 0, or -EINVAL (logged) when p is
 * an UNSPEC program that declared more memory (bpfvm_prog_opts.declare_mem).  Runs that pass may be
 * trusted (vm_run.trusted = p->mem_declared). */
int sys_mem_check(struct bpfvm *vm, int fd, const struct vm_prog *p, const void *mem, size_t len);
/* Has the embedder replaced helper `id` with a host function (bpfvm_opts.helpers)? */
bool sys_host_helper(const struct bpfvm *vm, uint32_t id);
/* The prototype the embedder gave its kfunc (kfunc) or helper `id` (bpfvm_opts.protos), or NULL. */
const struct hlp_proto *sys_host_proto(const struct bpfvm *vm, uint32_t id, bool kfunc);
/* The verifier on a program after resolve_ldimm64() (sys_verify.c): 0, or its error with the reason in
 * log (and, when why_len, its one line in why).  Types whose context is plain memory are not verified
 * (0), but for UNSPEC programs that declared their memory's size (vm_prog.mem_declared). */
int sys_verify_prog(struct bpfvm *vm, struct vm_prog *p, unsigned log_level, struct diag *log, char *why,
		    size_t why_len);

struct isa_line;
/* "insn 17" or, when the program has line info, "insn 17 (x.bpf.c:42)": where fault messages say a
 * fault happened.  Writes buf, returns it. */
const char *sys_insn_where(const struct vm_prog *p, size_t pc, char *buf, size_t len);
/* Gives program fd its source lines (copied; sorted by insn), as the loader finds them in .BTF.ext.
 * 0, -EBADF, -ENOMEM. */
int sys_prog_set_lines(struct bpfvm *vm, int fd, const struct isa_line *lines, size_t cnt);
/* Makes p a program of vm: the instance, its services table (struct vm_services: the engine, helper
 * resolution, run-time slow paths) and its run limits.  PROG_LOAD does it first; white-box tests that
 * build a vm_prog by hand do it too. */
void sys_prog_bind(struct bpfvm *vm, struct vm_prog *p);

struct vm_services;
/* The services table of a run of program p (handle fd, for the message) on `engine` (enum bpfvm_engine;
 * BPFVM_ENGINE_DEFAULT: the instance's): the JIT's or the interpreter's.  0 and *out, or -EINVAL (not
 * an engine) or -EOPNOTSUPP (the JIT asked for, p has no native code), with the message logged. */
int sys_engine_services(struct bpfvm *vm, int fd, const struct vm_prog *p, int engine, const struct vm_services **out);
/* The same engine's table for runs that clear the calling thread's log only when they fault (before
 * the fault's message), not at every run: bpfvm_runner_run(). */
const struct vm_services *sys_services_fresh_log(const struct vm_services *svc);

/* PROG_LOAD of a whole attr (sys.c), for commands that load programs themselves (OBJ_GET of a pin). */
long sys_prog_load(struct bpfvm *vm, union bpf_attr *attr);

/* Program pins (sys_pin.c): OBJ_PIN of a program at `rel` beneath the pin root `rootfd` (a path
 * pin_check_rel() accepted; `shown` names it in messages); OBJ_GET of the pin directory open as `pinfd`,
 * loading it in this instance on the pinned maps (returns the handle). */
struct vm_prog;
struct map_env;
/* The map_env of the instance's maps (sys_map.c): pin root, foreign pins, the memory cap. */
struct map_env sys_map_env(struct bpfvm *vm);
int sys_prog_pin(struct bpfvm *vm, struct vm_prog *p, int rootfd, const char *rel, const char *shown);
long sys_prog_get(struct bpfvm *vm, int pinfd, const char *shown, uint32_t file_flags /* ignored, as Linux does */);

/* Map commands, implemented in sys_map.c.  Each takes the attr as bpf(2) does. */
long sys_map_cmd(struct bpfvm *vm, int cmd, union bpf_attr *attr, unsigned int size);
/* Release of a map object's payload when its last reference goes. */
void sys_map_release(struct bpfvm *vm, struct map *m);
/* The instance's release_uref hook (struct bpfvm): empties a prog array whose last handle closed unless
 * it is pinned.  sys_maps_teardown(): bpfvm_free(), once every handle is closed, empties every prog array
 * left, pinned or not, so that the programs they hold (and the maps those hold) go. */
void sys_map_release_uref(struct bpfvm *vm, struct sys_obj *o);
void sys_maps_teardown(struct bpfvm *vm);

#endif
