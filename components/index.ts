/**
 * The one entry point that loads every built-in component: importing a component module
 * registers it. The engine reaches concrete components only through this file.
 */
