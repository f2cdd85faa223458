# delivery::Dispatcher (src/delivery/dispatcher*.cpp): its pure retry policy, and the dispatcher
# against real HTTP receivers (httplib::Server on 127.0.0.1) and a real SQLite store.
smtp_bridge_unit_test(dispatcher_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_policy_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_lease_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_poison_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_names_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_events_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_bounces_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/dispatcher_test_support.cpp
          ${PROJECT_SOURCE_DIR}/tests/unit/store/store_test_support.cpp
  LIBS delivery store config obs common PkgConfig::HTTPLIB OpenSSL::Crypto SQLite::SQLite3 test_postgres_server
       nlohmann_json::nlohmann_json)
target_include_directories(dispatcher_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}
                                                   ${PROJECT_SOURCE_DIR}/tests/unit/store)
