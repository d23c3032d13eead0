import test from "ava";
import { isSubset } from "./apply.js";

test("isSubset ignores what the API server adds, and sees every difference in what we set", (t) => {
  const desired = {
    spec: { replicas: 2, template: { containers: [{ name: "edge", ports: [{ containerPort: 8080 }] }] } },
  };
  const actual = {
    spec: {
      replicas: 2,
      revisionHistoryLimit: 10,
      template: {
        containers: [
          {
            name: "edge",
            imagePullPolicy: "IfNotPresent",
            ports: [{ containerPort: 8080, protocol: "TCP" }],
          },
        ],
      },
    },
  };
  t.true(isSubset(desired, actual));
  t.false(isSubset({ spec: { replicas: 3 } }, actual));
  t.false(
    isSubset({ spec: { template: { containers: [{ name: "edge" }, { name: "extra" }] } } }, actual),
    "a list of another length differs",
  );
  t.false(isSubset({ data: { A: "1" } }, { data: {} }));
  t.true(
    isSubset({ at: "2026-01-01T00:00:00Z" }, { at: new Date("2026-01-01T00:00:00Z") }),
    "the client's Date objects compare by instant",
  );
});
