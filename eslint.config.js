// Lint configuration: typescript-eslint's recommended rules over every TypeScript source, and the
// import arrows between folders (docs/design.md#import-arrows): each folder of production code
// imports only the folders listed for it, and never test support.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importX, { createNodeResolver } from "eslint-plugin-import-x";

/** Test files and test support: they may import anything (the code under test, e2e/harness). */
const TESTS = ["**/*.test.ts", "**/test/**", "e2e/**", "bench/**", "scripts/**"];

/**
 * Production folders and the folders each may import besides itself (and npm packages). Order
 * matters for nothing; a folder not listed here (e2e/, bench/, scripts/) is not production code.
 */
const ARROWS = {
  protocol: [],
  shared: ["protocol"],
  client: ["protocol"],
  operator: ["shared", "protocol"],
  "edge/common": ["shared", "protocol"],
  "edge/auth": ["edge/common", "shared", "protocol"],
  "edge/backend": ["edge/common", "shared", "protocol"],
  "edge/hub": ["edge/backend", "edge/common", "shared", "protocol"],
  "edge/requests": ["edge/auth", "edge/backend", "edge/common", "shared", "protocol"],
  "edge/http": ["edge/hub", "edge/requests", "edge/auth", "edge/common", "shared", "protocol"],
  "edge/session": ["edge/hub", "edge/requests", "edge/auth", "edge/common", "shared", "protocol"],
  "edge/sse": ["edge/session", "edge/requests", "edge/auth", "edge/common", "shared", "protocol"],
  "edge/ws": ["edge/http", "edge/requests", "edge/auth", "edge/common", "shared", "protocol"],
  // The composition root (edge/main.ts, edge/server.ts) wires every edge folder together.
  "edge/*.ts": ["edge", "shared", "protocol"],
};

const zones = Object.entries(ARROWS).flatMap(([folder, allowed]) => [
  {
    target: `./${folder}`,
    from: ".",
    except: [...new Set([folder.replace(/\/\*\.ts$/, ""), ...allowed, "node_modules"])].map((f) => `./${f}`),
    message: `${folder} may import only ${[...allowed, "npm packages"].join(", ")} (docs/design.md#import-arrows).`,
  },
  {
    target: `./${folder}`,
    from: ["**/test/**", "**/*.test.ts", "**/test-support.ts"],
    message: "production code never imports test support (docs/design.md#import-arrows).",
  },
]);

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "dist/**",
      "client/dist/**",
      ".tools/**",
      "bench/results/**",
      "edge/public/**",
      "charts/**",
      "crds/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", Buffer: "readonly", console: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["**/*.ts"],
    ignores: TESTS,
    plugins: { "import-x": importX },
    settings: {
      // Sources import `./x.js` for `./x.ts` (NodeNext): resolve the way tsc does.
      "import-x/resolver-next": [
        createNodeResolver({ extensions: [".ts", ".js"], extensionAlias: { ".js": [".ts", ".js"] } }),
      ],
    },
    rules: {
      "import-x/no-restricted-paths": ["error", { basePath: import.meta.dirname, zones }],
      // An import the resolver cannot follow would pass the arrows unchecked: it must resolve.
      "import-x/no-unresolved": ["error", { ignore: ["^node:"] }],
    },
  },
);
