#!/usr/bin/env node
import { runFleetCli } from './fleet-cli.js';

process.exitCode = await runFleetCli(process.argv.slice(2), undefined, { program: 'hotmcp-fleet', status: 'status' });
