#include "common/json_object_writer.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

using dsgw::has_member;
using dsgw::JsonObjectWriter;
using nlohmann::json;

TEST_CASE("JsonObjectWriter writes members of every kind as valid JSON") {
  std::string out;
  {
    JsonObjectWriter j(out);
    j.string("s", "say \"hi\"\n").number("n", -42).null("z").raw("a", "[1,2]");
    JsonObjectWriter(j.member("o")).number("inner", 1);
  }
  CHECK(out == R"({"s":"say \"hi\"\n","n":-42,"z":null,"a":[1,2],"o":{"inner":1}})");
  const json parsed = json::parse(out);
  CHECK(parsed["s"] == "say \"hi\"\n");
  CHECK(parsed["o"]["inner"] == 1);
}

TEST_CASE("JsonObjectWriter writes an empty object") {
  std::string out;
  { JsonObjectWriter j(out); }
  CHECK(out == "{}");
}

TEST_CASE("JsonObjectWriter replaces invalid UTF-8 in strings") {
  std::string out;
  { JsonObjectWriter(out).string("t", std::string("ok\xff", 3)); }
  CHECK(json::parse(out)["t"] == "ok\xef\xbf\xbd");
}

TEST_CASE("JsonObjectWriter::members_of splices another object's members") {
  std::string out;
  {
    JsonObjectWriter j(out);
    j.members_of(R"({"x":{"y":[1]},"w":"}"})").number("after", 1).members_of("").members_of("{}").members_of(" { } ");
  }
  CHECK(out == R"({"x":{"y":[1]},"w":"}","after":1})");
  CHECK(json::parse(out)["w"] == "}");
}

TEST_CASE("has_member finds top-level keys only") {
  const std::string text = R"({"a":{"logprobs":1},"b":["logprobs"],"s":"\"logprobs\":","tool_calls":[]})";
  CHECK(has_member(text, "tool_calls"));
  CHECK(has_member(text, "a"));
  CHECK_FALSE(has_member(text, "logprobs"));
  CHECK_FALSE(has_member("", "a"));
  CHECK_FALSE(has_member("{}", "a"));
  CHECK(has_member(R"({ "k" : 1 })", "k"));
}

TEST_CASE("JsonObjectWriter::members_of leaves out the members named in except") {
  std::string out;
  { JsonObjectWriter(out).members_of(R"({"model":"evil","tools":[{"model":"kept"}],"user":"u"})", {"model", "stream"}); }
  CHECK(out == R"({"tools":[{"model":"kept"}],"user":"u"})");
}

TEST_CASE("JsonObjectWriter::members_of adds nothing for text that is not an object") {
  for (const char* text : {"not json", "[1,2]", "\"s\"", "{\"a\":"}) {
    CAPTURE(text);
    std::string out;
    { JsonObjectWriter(out).members_of(text); }
    CHECK(out == "{}");
  }
}

TEST_CASE("JsonObjectWriter writes doubles that read back exactly") {
  for (const double v : {0.5, -1.5, 0.1, 1e-5, 123456789.25, 0.0}) {
    CAPTURE(v);
    std::string out;
    { JsonObjectWriter(out).real("v", v); }
    CHECK(json::parse(out)["v"].get<double>() == v);
  }
}

TEST_CASE("for_each_member gives each top-level key and value text, spaces trimmed") {
  std::vector<std::pair<std::string, std::string>> seen;
  dsgw::for_each_member(R"( { "a" : 1 , "b":{"c":[1,{"d":2}]}, "e\"q":"x,}" } )",
                        [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::pair<std::string, std::string>{"a", "1"});
  CHECK(seen[1] == std::pair<std::string, std::string>{"b", R"({"c":[1,{"d":2}]})"});
  CHECK(seen[2] == std::pair<std::string, std::string>{R"(e\"q)", R"("x,}")"});
}
