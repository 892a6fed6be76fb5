typedef int anpi_rules_placeholder_t;
