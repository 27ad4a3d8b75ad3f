// The sh text a test double (the farm's replay, a hostile container shell)
// uses to take the probe script from its standard input: up to the script's
// last line, since the scan keeps that input open after it (steering).
import { SCRIPT_LAST_LINE } from '../../src/probe/script.js';

/** Reads the script into $script (byte for byte but NUL, which a script has none of). */
export const READ_SCRIPT_SH = `script=
while IFS= read -r line; do
  script="$script$line
"
  [ "$line" = '${SCRIPT_LAST_LINE}' ] && break
done`;
