/* objdump.h -- objdump.c's helper for the CO-RE relocation lines of `llvm-objdump -dr` (objdump_core.c). */
#ifndef BPFVM_LOADER_OBJDUMP_H
#define BPFVM_LOADER_OBJDUMP_H

#include <stddef.h>
#include <stdint.h>

struct bpfvm_object;
struct od_core;

/* .BTF and .BTF.ext read as llvm-objdump reads them; NULL when the object lacks either, or when either
 * is one llvm-objdump rejects (it then prints no CO-RE line), or out of memory. */
struct od_core *od_core_load(const struct bpfvm_object *obj);
void od_core_free(struct od_core *c);
/* The text after "CO-RE " for the relocation at byte `insn_off` of section `sec` (snprintf semantics),
 * 0 when there is none there. */
size_t od_core_line(const struct od_core *c, uint32_t sec, uint64_t insn_off, char *buf, size_t len);

#endif
