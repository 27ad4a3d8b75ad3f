// A probe is data: where its output goes, what it reads or runs, what it needs.
// targets/ holds the probe lists; src/probe/script.ts turns them into POSIX sh.

export const KiB = 1024;
export const MiB = 1024 * KiB;

interface ProbeBase {
  /** Stable identifier, carried in every frame header so the controller can find the probe again. */
  id: string;
  /** Per-entry byte cap; larger output is truncated with a warning. */
  cap?: number;
  /** True when the data is only readable by root (the scan user gets a warning saying so). */
  needsRoot?: boolean;
  /** Shell-free condition: run only when this path is a directory on the target. */
  whenDir?: string;
  /** Skip when any of these commands is found (package-manager precedence). */
  unlessCommand?: string[];
  /** One line for the README: why this probe exists. */
  doc?: string;
}

/** Copy one file, silently skipped when it does not exist. */
export interface FileProbe extends ProbeBase {
  kind: 'file';
  entry: string;
  /** Tried in order; the first that exists is copied (oratab has two homes). */
  paths: string[];
  /** Small text the kernel makes (at most a page, no NUL bytes): read by the shell itself, no process. */
  text?: boolean;
}

/** Copy every file matching a glob into entryDir/<basename>. */
export interface GlobProbe extends ProbeBase {
  kind: 'glob';
  entryDir: string;
  /** A shell glob such as /etc/*-release; only the directory part is fixed. */
  pattern: string;
  /** Files of these names are root-only (dmi serials); others are readable by anyone. */
  rootOnly?: string[];
  /** Raw binary files stored uncompressed with the source's mode (hyperv). */
  binary?: boolean;
  /** Also match names starting with a dot, which * skips (Hyper-V's pools are .kvp_pool_<n>). */
  dotFiles?: boolean;
  /** Small text the kernel makes (sysfs attributes: at most a page, no NUL bytes): read by the shell itself, no process. */
  text?: boolean;
}

/** Run a command found on PATH; its standard output is the entry. */
export interface CommandProbe extends ProbeBase {
  kind: 'command';
  entry: string;
  /** argv; argv[0] must be found on PATH or the probe is skipped without a warning. */
  argv: string[];
  /** Exit codes that still count as success (systemd-detect-virt prints "none" and exits 1). */
  okExit?: number[];
  /** Alternatives tried in order when the previous one exits non-zero (option sets differ by vendor). */
  fallbackArgv?: string[][];
  /** Only when the on-host scanner would not have run it: no warning on failure. */
  quiet?: boolean;
  /** Text fed to the command's standard input (scutil reads its commands there). */
  input?: string;
  /** Keep standard error in the entry too (macOS cmd/java_home). */
  withStderr?: boolean;
  /** Written even when the command fails or is missing (the macOS scanner always writes these). */
  always?: boolean;
  /** Absolute program path: run it where it exists instead of searching PATH. */
  absolute?: boolean;
  /** Deadline in seconds for this command; default 600 (system_profiler can take minutes). */
  timeout?: number;
}

/** Logic too rich for one command (Java search, memory sum): a named shell function of the prelude. */
export interface BuiltinProbe extends ProbeBase {
  kind: 'builtin';
  builtin:
    | 'total-memory' | 'java-default' | 'java-home' | 'java-static' | 'java-dynamic'
    | 'mac-apps' | 'mac-java-plists' | 'mac-java-static' | 'mac-virtualbox';
  entry?: string;
}

export type Probe = FileProbe | GlobProbe | CommandProbe | BuiltinProbe;

/** The probes of one operating-system family, run in order. */
export interface TargetFamily {
  name: string;
  os: 'linux' | 'darwin';
  /** Human description for the README. */
  description: string;
  probes: Probe[];
}

/** Default caps. Generous for package lists, tight for things that should be small. */
export const DEFAULT_ENTRY_CAP = 64 * MiB;
export const DEFAULT_HOST_CAP = 512 * MiB;
