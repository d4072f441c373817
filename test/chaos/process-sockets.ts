// Which local TCP ports a process's sockets use, from /proc (Linux): its file descriptors name
// socket inodes, /proc/net/tcp{,6} maps inodes to addresses. Joined with pg_stat_activity's
// client_port, it names the PostgreSQL sessions of one process among many with the same
// application_name (the leader bridge's, say). A process that exited has none.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export function localPortsOf(pid: number): number[] {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('socket:[')) inodes.add(target.slice('socket:['.length, -1));
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    // "sl local_address rem_address st … uid timeout inode": addresses as hex "ADDR:PORT".
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns.length > 9 && inodes.has(columns[9]!))
        ports.push(Number.parseInt(columns[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}
