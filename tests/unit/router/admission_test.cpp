#include "router/admission.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using dsgw::router::Admission;

TEST_CASE("Admission grants up to its capacity, then refuses") {
  Admission a(2);
  CHECK(a.capacity() == 2);
  auto p1 = a.try_acquire();
  auto p2 = a.try_acquire();
  REQUIRE(p1.has_value());
  REQUIRE(p2.has_value());
  CHECK(a.in_flight() == 2);
  CHECK_FALSE(a.try_acquire().has_value());
  CHECK(a.in_flight() == 2);  // a refusal takes nothing
}

TEST_CASE("Admission permits release their place on destruction") {
  Admission a(1);
  {
    auto p = a.try_acquire();
    REQUIRE(p.has_value());
    CHECK(a.in_flight() == 1);
    CHECK_FALSE(a.try_acquire().has_value());
  }
  CHECK(a.in_flight() == 0);
  auto again = a.try_acquire();
  CHECK(again.has_value());
  again.reset();
  CHECK(a.in_flight() == 0);
}

TEST_CASE("a moved Admission permit releases its place once") {
  Admission a(3);
  auto p = a.try_acquire();
  REQUIRE(p.has_value());
  {
    Admission::Permit moved(std::move(*p));
    p.reset();  // the moved-from permit holds nothing
    CHECK(a.in_flight() == 1);
  }
  CHECK(a.in_flight() == 0);
}

TEST_CASE("Admission with capacity 0 refuses everything") {
  Admission a(0);
  CHECK_FALSE(a.try_acquire().has_value());
}

TEST_CASE("Admission never over-grants under contention") {
  Admission a(5);
  std::atomic<int> granted{0};
  std::atomic<int> peak{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (auto p = a.try_acquire()) {
          ++granted;
          const int now = a.in_flight();
          int seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
        }
      }
    });
  }
  threads.clear();
  CHECK(granted.load() > 0);
  CHECK(peak.load() <= 5);
  CHECK(a.in_flight() == 0);
}
