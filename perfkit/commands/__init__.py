"""Stage 6, the commands: thin orchestrators over the stages below, one module per command.

Enters: what a user asks for, from the command line, a notebook or a test.
Leaves: run directories holding records and pages, and what the command prints. Each module holds
what its command runs as a library function (``run_bench``, ``run_load_test``, ``try_candidate``,
``run_batch``, ``run_task_evaluation``...), which notebooks and tests call too, and the command
class that gives it its options; `cli` turns the kit's errors into exit codes.
"""
