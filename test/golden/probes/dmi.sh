_glob dmi 'sys/class/dmi/id' 'product_uuid product_serial board_serial chassis_serial' t '/sys/class/dmi/id/'*
