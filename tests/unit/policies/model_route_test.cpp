#include "policies/model_route.h"

#include <doctest/doctest.h>

#include "tests/unit/router/fake_backend.h"
#include "tests/unit/test_util.h"

using dsgw::ErrorCode;
using dsgw::policies::route_by_model;
using dsgw::test::make_fake;

namespace {

dsgw::router::Request asking_for(const std::string& model) {
  dsgw::router::Request r;
  r.model = model;
  return r;
}

}  // namespace

TEST_CASE("route_by_model picks the first usable backend that serves the name") {
  auto a = make_fake("a", {"x"});
  auto b = make_fake("b", {"y", "z"});
  auto c = make_fake("c", {"z"});
  const std::vector<std::shared_ptr<dsgw::backends::Backend>> all{a, b, c};

  auto z = route_by_model(asking_for("z"), all);
  REQUIRE(z.has_value());
  CHECK(z->backend == b);
  CHECK(z->rule == "model:z");

  auto x = route_by_model(asking_for("x"), all);
  REQUIRE(x.has_value());
  CHECK(x->backend == a);
}

TEST_CASE("route_by_model skips unusable backends") {
  auto sick = make_fake("sick", {"m"}, false, "no key");
  auto well = make_fake("well", {"m"});
  auto d = route_by_model(asking_for("m"), {sick, well});
  REQUIRE(d.has_value());
  CHECK(d->backend == well);
}

TEST_CASE("route_by_model reports every unusable backend's reason") {
  auto d = route_by_model(asking_for("m"), {make_fake("one", {"m"}, false, "reason one"),
                                            make_fake("other", {"n"}),
                                            make_fake("two", {"m"}, false, "reason two")});
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == ErrorCode::kUnavailable);
  const std::string& m = d.error().message;
  CHECK(dsgw::test::contains(m, "\"one\" is not usable: reason one"));
  CHECK(dsgw::test::contains(m, "\"two\" is not usable: reason two"));
  CHECK_FALSE(dsgw::test::contains(m, "other"));
}

TEST_CASE("route_by_model answers kNotFound with param model for unknown names") {
  auto d = route_by_model(asking_for("M"), {make_fake("a", {"m"})});  // names are case-sensitive
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == ErrorCode::kNotFound);
  CHECK(d.error().param == "model");
  CHECK(d.error().subcode == "model_not_found");
  CHECK(dsgw::test::contains(d.error().message, "\"M\""));
}
