//! kro's CEL environment: libraries, value conversion, the static checker and cost limits.
