# The drop-in payload formats of issue 15 (src/delivery/format_*.cpp): Postmark's inbound JSON and
# Mailgun's forward() form, their fields, limits, signature and size bound.
smtp_bridge_unit_test(formats_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/formats_test.cpp
  LIBS delivery_payload mime common nlohmann_json::nlohmann_json OpenSSL::Crypto)
target_include_directories(formats_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
