import { controlSuite } from '@hotmcp/example-e2e-suites';
import { example } from './example.js';

controlSuite(example);
