import test from "ava";
import { ownerDescription, ownershipConflict } from "./stream.js";

const owner = { namespace: "prod", name: "news", uid: "uid-1" };

test("a stream's owner is its description; another owner's stream is refused, an unmarked one claimed", (t) => {
  t.is(ownerDescription(owner), "herald: prod/news uid uid-1");
  t.is(ownershipConflict("s", ownerDescription(owner), owner), undefined);
  t.is(ownershipConflict("s", undefined, owner), undefined, "unmarked (created by an edge): claimed");
  t.is(ownershipConflict("s", "", owner), undefined);
  t.is(
    ownershipConflict("s", ownerDescription({ ...owner, uid: "uid-0" }), owner),
    undefined,
    "the same resource re-created takes its retained stream back",
  );
  t.is(
    ownershipConflict("s", ownerDescription({ ...owner, name: "sport" }), owner),
    "stream s belongs to NotificationService prod/sport (uid uid-1); choose another spec.stream.name",
  );
  t.is(
    ownershipConflict("s", ownerDescription({ ...owner, namespace: "dev" }), owner)?.startsWith(
      "stream s belongs to NotificationService dev/news",
    ),
    true,
  );
  t.is(
    ownershipConflict("s", "orders of the shop", owner),
    'stream s exists and is not managed by Herald (description "orders of the shop"); choose another spec.stream.name',
  );
});
