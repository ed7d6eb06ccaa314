/* pc_scenarios.h: the scenario tables of posix_compare, one per group file
 * (pc_scen_<group>.c). Each table ends with a { NULL } entry. */
#ifndef PC_SCENARIOS_H
#define PC_SCENARIOS_H

#include <stdbool.h>

struct pc_scenario {
	const char *name;
	const char *what; /* one line: the property compared */
	void (*run)(void);
	/* Switches to non-root users: needs a mount others may use
	 * (allow_other); left out by --root-only. */
	bool other_users;
};

extern const struct pc_scenario pc_files_scenarios[];
extern const struct pc_scenario pc_dirs_scenarios[];
extern const struct pc_scenario pc_meta_scenarios[];
extern const struct pc_scenario pc_locks_scenarios[];
extern const struct pc_scenario pc_sparse_scenarios[];
extern const struct pc_scenario pc_perms_scenarios[];
extern const struct pc_scenario pc_tmpfile_scenarios[];

#endif
