// Tests that run the gateway as `npm start` and the container do (test/shutdown, test/replicas)
// start dist/. Build it once before the suite, and only when a source is newer than the build,
// so those tests never run yesterday's code and never spend their own timeout compiling.
import { buildIfStale } from '../bench/build.ts';

export default function setup(): void {
  buildIfStale();
}
