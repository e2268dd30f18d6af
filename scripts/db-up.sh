#!/usr/bin/env bash
# db-up.sh: make sure the PostgreSQL (127.0.0.1:5432, user postgres) and
# MariaDB (127.0.0.1:3306, user root) servers the database tests drive are
# running: start them when they are installed but down, and fail, never
# skip, when they cannot be reached.
set -u
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
my_up() { mariadb-admin -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 ping >/dev/null 2>&1; }
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! pg_up && command -v pg_ctlcluster >/dev/null; then
	for v in $(ls /etc/postgresql 2>/dev/null); do
		pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
	done
	wait_for pg_up
fi
if ! my_up && [ -x /usr/sbin/mariadbd ]; then
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null 2>&1 || true
	wait_for my_up
fi
ok=0
pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432: start it with pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2; ok=1; }
my_up || { echo "MariaDB is not reachable on 127.0.0.1:3306: start it with start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd" >&2; ok=1; }
exit $ok
