// The bench's process counter (bench/process-count.ts): strace -f output of a
// scan read into execve and fork counts, threads left out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countCommandProcesses, countProcesses, countScriptProcesses, processCountUnavailable } from '../../bench/process-count.js';

// Lines of a real trace (strace -f -e trace=execve,clone,clone3,fork,vfork of a
// --local scan on Debian 12): node's threads, dash's forks, calls interrupted by
// another process ("<unfinished ...>" then "<... resumed>"), signals and exits.
const TRACE = [
  '12644 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f1aa2a1d990, parent_tid=0x7f1aa2a1d990, exit_signal=0, stack=0x7f1aa221d000, stack_size=0x7ffe80, tls=0x7f1aa2a1d6c0} => {parent_tid=[12651]}, 88) = 12651',
  '12644 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f1aa2ec3f50) = 12667',
  '12667 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f2361043a10 <unfinished ...>',
  '12671 execve("/usr/bin/renice", ["renice", "-n", "19", "-p", "12667"], 0x564165433f28 /* 40 vars */ <unfinished ...>',
  '12667 <... clone resumed>) = 12676',
  '12671 <... execve resumed>) = 0',
  '12679 execve("/usr/bin/head", ["head", "-c", "1"], 0x564165435518 /* 40 vars */) = 0',
  '12680 execve("/usr/bin/head", ["head", "-c", "65537"], 0x564165435518 /* 40 vars */) = 0',
  '12667 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=12671, si_uid=65534, si_status=0, si_utime=0, si_stime=0} ---',
  '12671 +++ exited with 0 +++',
  '6829  vfork() = 6830',
  // A PATH lookup: the first folders fail, the last one runs the program (one blocked, then resumed).
  '12690 execve("/usr/local/sbin/dpkg-query", ["dpkg-query", "-W"], 0x5641 /* 40 vars */) = -1 ENOENT (No such file or directory)',
  '12690 execve("/usr/sbin/dpkg-query", ["dpkg-query", "-W"], 0x5641 /* 40 vars */ <unfinished ...>',
  '12667 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f2361043a10) = 12691',
  '12690 <... execve resumed>)             = -1 ENOENT (No such file or directory)',
  '12690 execve("/usr/bin/dpkg-query", ["dpkg-query", "-W"], 0x5641 /* 40 vars */) = 0',
].join('\n');

describe('bench process counter', () => {
  it('counts execve calls and process-creating clones once each, not threads, resumptions or signals', () => {
    const c = countProcesses(TRACE);
    assert.equal(c.execve, 4);
    assert.equal(c.forks, 4);
    assert.deepEqual(c.byProgram, [['head', 2], ['renice', 1], ['dpkg-query', 1]]);
  });

  it('counts a failed execve (a PATH lookup trying the next folder) apart: it starts no program', () => {
    assert.equal(countProcesses(TRACE).execveFailed, 2);
  });

  const skip = processCountUnavailable();
  it('counts a real script run by /bin/sh as nobody under strace', { skip }, () => {
    const c = countScriptProcesses('nobody', '/bin/true\nx=$(/bin/true)\n/bin/true </dev/null\n');
    assert.equal(c.execve, 3, JSON.stringify(c));
    assert.deepEqual(c.byProgram, [['true', 3]]);
    // At least the first two need a process each; the last may be exec'd in place.
    assert.ok(c.forks >= 2 && c.forks <= 4, JSON.stringify(c));
  });

  it('counts any command run as nobody without its own start (the on-host scanner is counted this way)', { skip }, () => {
    // env execs true in place: one execve beyond env itself, no fork; sh -c forks for the second command.
    const env = countCommandProcesses('nobody', ['/usr/bin/env', 'true']);
    assert.deepEqual({ ...env, execveFailed: 0 }, { execve: 1, execveFailed: 0, forks: 0, byProgram: [['true', 1]] });
    const c = countCommandProcesses('nobody', ['/bin/sh', '-c', '/bin/true; /bin/true']);
    assert.equal(c.execve, 2, JSON.stringify(c));
    assert.deepEqual(c.byProgram, [['true', 2]]);
    assert.ok(c.forks >= 1 && c.forks <= 2, JSON.stringify(c));
  });
});
