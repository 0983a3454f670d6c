/* mmrun run: being written with the workloads (issue 5). */
#include "mmrun.h"

int mmrun_cmd_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return mmrun_usage("run: the workloads are not built yet");
}
