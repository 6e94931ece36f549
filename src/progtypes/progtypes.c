/* progtypes.c -- the table of program types.  (Initial version: every type may call every helper.) */
#include "progtypes.h"

bool pt_helper_allowed(uint32_t prog_type, uint32_t helper_id)
{
	(void)prog_type;
	(void)helper_id;
	return true;
}
