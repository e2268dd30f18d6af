// Package agent will hold the drill daemon: the scheduler, the control API
// on a unix socket, the lifecycle under systemd and the metrics. Until it
// exists, `drill run` runs drills in-process through package drills, the
// same code path the agent will use.
package agent
