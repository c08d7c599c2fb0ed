// The bundle's e2e driver JSON (e2e_model.py: both arms' raw samples per cell) → the RunResult's e2e part. Pure.
import { checkShape, parseJson, ResultFileError } from '../read-json.js';
import { E2e } from '../run-result.js';

export function parseE2eModel(text: string, what = 'e2e JSON'): E2e {
  return checkShape(E2e, parseJson(text, what), {
    what,
    mismatch: 'does not match the E2e shape',
    error: ResultFileError,
    maxIssues: 4,
  });
}
