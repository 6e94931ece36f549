/* util.h -- small helpers shared by the CLI's subcommands (public API only). */
#ifndef BPFVM_TOOLS_UTIL_H
#define BPFVM_TOOLS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <bpfvm.h>

/* Reads a whole file (or "-" for stdin).  Returns a malloc'd, NUL-terminated buffer or NULL with a
 * message on stderr. */
uint8_t *tool_read_file(const char *path, size_t *len);
/* Parses hex bytes ("01 ab", "01ab", "0x01 0xab").  Returns 0, or -1 with *bad at the offending char. */
int tool_parse_hex(const char *s, uint8_t **out, size_t *len);
/* Loads a program from a .s (assembly) or raw .bin file into insns (malloc'd). Returns 0 or -1 (message
 * printed). */
int tool_load_insns(struct bpfvm *vm, const char *path, struct bpf_insn **insns, size_t *cnt);
int tool_is_elf(const char *path);
/* What handle `fd` is.  bpf() has no command that says; an object's id (OBJ_GET_INFO_BY_FD) opens only as
 * its own kind (MAP_GET_FD_BY_ID / PROG_GET_FD_BY_ID). */
enum { TOOL_OBJ_NONE, TOOL_OBJ_MAP, TOOL_OBJ_PROG };
int tool_obj_kind(struct bpfvm *vm, int fd);
/* Parses a byte count for --map-mem-max: decimal or 0x, optional K/M/G (powers of 1024) suffix, or
 * "unlimited".  Returns 0, or -1 with a message on stderr. */
int tool_parse_size(const char *s, uint64_t *out);

/* The value of --insn-limit: N >= 1 (decimal, or hex with 0x) or "unlimited" (BPFVM_INSN_UNLIMITED).
 * Returns 0, or -1 with a message on stderr naming the option and the value. */
int tool_parse_insn_limit(const char *cmd, const char *s, uint64_t *out);
#define TOOL_INSN_LIMIT_HELP \
	"  --insn-limit N  instruction budget of each run (each packet): N units, one per backward jump,\n" \
	"                  call or callback; 'unlimited' for none (default 1000000); a run over it stops\n" \
	"                  with 'instruction budget exhausted'.  Ctrl-C / SIGTERM stop a run at once.\n"

/* From now on SIGINT and SIGTERM stop every run of vm (bpfvm_interrupt()) and set the flag
 * tool_stop_signal() points to (the signal's number); vm NULL restores the default actions. */
void tool_stop_on_signals(struct bpfvm *vm);
const volatile int *tool_stop_signal(void);

#endif
