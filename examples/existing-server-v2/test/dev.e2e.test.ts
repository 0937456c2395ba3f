import { fileURLToPath } from 'node:url';
import { existingServerSuite } from '@hotmcp/example-e2e-suites';

existingServerSuite(fileURLToPath(new URL('..', import.meta.url)), 'SDK 2.x');
