// SLES and openSUSE are rpm systems: the same query, the same entry.
export { rpmPackages as susePackages } from './rhel.js';
