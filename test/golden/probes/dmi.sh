_glob dmi 'sys/class/dmi/id' 65537 'product_uuid product_serial board_serial chassis_serial' 0 '/sys/class/dmi/id/'*
