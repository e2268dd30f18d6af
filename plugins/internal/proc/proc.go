// Package proc ties child processes to the life of the process that
// starts them, so that nothing drill starts outlives it: a plugin whose
// host was killed, or a restic, pg_restore or mariadb client whose plugin
// was (DieWithParent); and a client tool's own children, such as a hung
// password_command, when the tool is stopped (Group).
package proc
