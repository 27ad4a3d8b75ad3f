_total_memory total-memory 'sys/devices/system/memory/octoscan_total_memory'
