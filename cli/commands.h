/* The subcommands of `octofleet`. Each takes argv starting at its own name,
 * handles --help itself and returns an exit code (cli/exitcodes.h). */
#ifndef OF_COMMANDS_H
#define OF_COMMANDS_H

typedef int (*of_cmd_fn)(int argc, char **argv);

int of_cmd_submit(int argc, char **argv); /* cmd_ops.c */
int of_cmd_replay(int argc, char **argv);
int of_cmd_resume(int argc, char **argv);
int of_cmd_abort(int argc, char **argv);
int of_cmd_approve(int argc, char **argv);
int of_cmd_guide(int argc, char **argv);
int of_cmd_events(int argc, char **argv); /* cmd_events.c */
int of_cmd_status(int argc, char **argv); /* cmd_status.c */
int of_cmd_watch(int argc, char **argv);  /* cmd_watch.c */
int of_cmd_list(int argc, char **argv);
int of_cmd_plan(int argc, char **argv);     /* cmd_plan.c */
int of_cmd_hotfix(int argc, char **argv);   /* cmd_hotfix.c */
int of_cmd_import(int argc, char **argv);   /* cmd_import.c */
int of_cmd_demo(int argc, char **argv);     /* cmd_demo.c */
int of_cmd_producer(int argc, char **argv); /* cmd_producer.c */
int of_cmd_worker(int argc, char **argv);   /* cmd_worker.c */
int of_cmd_topic(int argc, char **argv);    /* cmd_topic.c */
int of_cmd_notify(int argc, char **argv);   /* cmd_notify.c */
int of_cmd_workers(int argc, char **argv);  /* cmd_workers.c */

#endif
