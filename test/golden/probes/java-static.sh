_java_static java-static 262145 '/opt' '/usr/lib' '/usr/lib64' '/usr/java'
