import { stdoutSuite } from '@hotmcp/example-e2e-suites';
import { example } from './example.js';

stdoutSuite(example);
