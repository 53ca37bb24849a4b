#!/usr/bin/env node
// The `otpkit` binary. This file is committed (not built) so npm can link it
// before the build runs; the real entry point is dist/main/cli.js.
import '../dist/main/cli.js';
