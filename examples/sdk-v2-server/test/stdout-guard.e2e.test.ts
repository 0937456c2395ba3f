import { stdoutGuardSuite } from '@hotmcp/example-e2e-suites';
import { example } from './example.js';

stdoutGuardSuite(example);
