// Package proc runs the client tools of the built-in backends and ties
// child processes to the life of the process that starts them, so that
// nothing drill starts outlives it: a plugin whose host was killed, or a
// restic, pg_restore or mariadb client whose plugin was (DieWithParent);
// and a client tool's own children, such as a hung password_command, when
// the tool is stopped (Group).
//
// Tool is the one shape every backend runs a client tool in: its own
// process group, stdin /dev/null or fed, SIGINT then SIGKILL after a grace
// period when the run's context ends, bounded stderr, secrets only by an
// inherited descriptor, and how the run ended (Exit).
package proc
