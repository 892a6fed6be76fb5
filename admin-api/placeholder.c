typedef int anpi_api_placeholder_t;
