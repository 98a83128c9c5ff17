// Loaded first (async): starts compiling the engine while the page's other
// modules are still loading, so that it is ready when main.js asks for it.
import { compile, instance } from './engine.js';

compile();
instance(0);
