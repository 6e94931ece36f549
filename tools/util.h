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


#endif
